package ruleset

import (
	"time"
)

// evalState is the state of one evaluation. It lives on the caller's stack.
type evalState struct {
	ctx     Context
	clock   func() time.Time
	now     time.Time
	haveNow bool
	tr      *tracer // nil unless explaining
}

// time returns the evaluation time, reading it once: the context's "now"
// when it is a valid datetime, else the clock.
func (st *evalState) time() time.Time {
	if !st.haveNow {
		st.haveNow = true
		if v, ok := st.ctx["now"]; ok {
			if t, ok := toTime(v); ok {
				st.now = t
				return t
			}
		}
		st.now = st.clock()
	}
	return st.now
}

// Evaluate evaluates the flag with the given key for ctx. It never panics,
// never blocks and does not allocate on its usual paths. The order is:
// override (unless expired; during its recovery ramp, users whose recovery
// bucket is below the cap are evaluated normally), the schedule step in
// force (merged over the flag), enabled=false (the off variant, DISABLED),
// requires (each prerequisite evaluated with the same context and time;
// one not serving a listed variant gives the off variant,
// PREREQUISITE_FAILED), rules in order (serve: TARGETING_MATCH; rollout
// and ramp: SPLIT), then the default variant (DEFAULT, or STATIC for a flag
// without rules, prerequisites or schedule). An unknown flag gives
// ReasonError with ErrorFlagNotFound and Rule -1.
func (rs *RuleSet) Evaluate(key string, ctx Context) Result {
	if rs == nil {
		return Result{Reason: ReasonError, ErrorCode: ErrorGeneral, Rule: -1}
	}
	f := rs.flags.get(key)
	if f == nil {
		return Result{Reason: ReasonError, ErrorCode: ErrorFlagNotFound, Rule: -1}
	}
	if f.static {
		return *f.staticResult
	}
	st := evalState{ctx: ctx, clock: rs.now}
	return *f.evaluate(&st)
}

// Explain evaluates like Evaluate and also returns a Trace of every step
// taken: the override considered, the disabled check, each rule tried with
// each selector and condition, the context values seen and the outcome.
func (rs *RuleSet) Explain(key string, ctx Context) (Result, Trace) {
	tr := &tracer{trace: Trace{Flag: key}}
	var res Result
	switch f, ok := rs.lookup(key); {
	case rs == nil:
		res = Result{Reason: ReasonError, ErrorCode: ErrorGeneral, Rule: -1}
		tr.leaf(StepNotFound, "no rule set", "", false, "")
	case !ok:
		res = Result{Reason: ReasonError, ErrorCode: ErrorFlagNotFound, Rule: -1}
		tr.leaf(StepNotFound, "flag "+quote(key), "", false, "no such flag")
	default:
		st := evalState{ctx: ctx, clock: rs.now, tr: tr}
		res = *f.evaluate(&st)
		if st.haveNow {
			tr.trace.Now = st.now
		}
	}
	tr.trace.Result = res
	return res, tr.trace
}

func (rs *RuleSet) lookup(key string) (*flag, bool) {
	if rs == nil {
		return nil, false
	}
	f := rs.flags.get(key)
	return f, f != nil
}

// evaluate runs the evaluation order for f. Every result is precomputed
// at compile time: evaluation only chooses one, and Evaluate copies it once.
func (f *flag) evaluate(st *evalState) *Result {
	if f.override != nil {
		if res := f.applyOverride(st); res != nil {
			return res
		}
	} else if st.tr != nil {
		st.tr.leaf(StepOverride, "override", "", false, "none")
	}
	g := f
	if n := len(f.steps); n > 0 {
		if st.tr != nil {
			g = f.stepInForce(st)
		} else {
			now := unixNano(st.time())
			for i := n - 1; i >= 0; i-- {
				if now >= f.steps[i].atNs {
					g = f.steps[i].f
					break
				}
			}
			if g.static {
				return g.staticResult
			}
		}
	}
	return g.evaluateState(st)
}

// stepInForce returns the state of f's schedule at the evaluation time:
// the last step whose time has come, or f itself before the first, and
// traces it. (evaluate does the same inline when not tracing.)
func (f *flag) stepInForce(st *evalState) *flag {
	now := unixNano(st.time())
	for i := len(f.steps) - 1; i >= 0; i-- {
		if now >= f.steps[i].atNs {
			if st.tr != nil {
				st.tr.schedule(f, i)
			}
			return f.steps[i].f
		}
	}
	if st.tr != nil {
		st.tr.schedule(f, -1)
	}
	return f
}

// evaluateState evaluates one state of a flag (the flag itself, or a
// schedule step merged over it): enabled, prerequisites, rules, default.
func (f *flag) evaluateState(st *evalState) *Result {
	if !f.enabled {
		if st.tr != nil {
			st.tr.leaf(StepDisabled, "enabled", "", false, "false, serve "+quote(f.names[f.off]))
		}
		return &f.offResult
	}
	if st.tr != nil {
		// The whole list, folded ones included, to show each trace.
		for i := range f.requires {
			if !f.requirementMet(&f.requires[i], st) {
				return f.prereqFailed()
			}
		}
	} else {
		if f.requiresFail {
			return f.prereqFailed()
		}
		for i := range f.hot {
			if !f.requirementMet(&f.hot[i], st) {
				return f.prereqFailed()
			}
		}
	}
	for i := range f.rules {
		r := &f.rules[i]
		if res := f.tryRule(i, r, st); res != nil {
			return res
		}
	}
	if st.tr != nil {
		st.tr.leaf(StepDefault, "default", "", true, "serve "+quote(f.names[f.def]))
	}
	return &f.defResult
}

// requirementMet evaluates prerequisite p with the same context and time,
// and reports whether it serves one of p's variants.
func (f *flag) requirementMet(p *prereq, st *evalState) bool {
	if st.tr == nil {
		if p.f.static {
			return p.allows(p.f.staticResult.Variant)
		}
		return p.allows(p.f.evaluate(st).Variant)
	}
	step := st.tr.begin(StepRequires, requiresSubject(p), "")
	res := p.f.evaluate(st)
	ok := p.allows(res.Variant)
	{
		note := p.f.key + " serves " + quote(res.Variant)
		if !ok {
			note += ": prerequisite failed, serve " + quote(f.names[f.off])
		}
		st.tr.end(step, ok, note)
	}
	return ok
}

func (f *flag) result(variant int, reason Reason, rule int, name string) Result {
	return Result{Value: f.values[variant], Variant: f.names[variant], Reason: reason, Rule: rule, RuleName: name,
		Metadata: f.src.Metadata}
}

// applyOverride returns the override's result if it serves this context.
func (f *flag) applyOverride(st *evalState) *Result {
	o := f.override
	now := st.time()
	if o.expires != nil && !now.Before(*o.expires) {
		if st.tr != nil {
			st.tr.leaf(StepOverride, "override serve "+quote(f.names[o.serve]), "", false, "expired at "+o.expires.UTC().Format(time.RFC3339))
		}
		return nil
	}
	if rec := o.recovery; rec != nil && !now.Before(rec.StartAt) {
		limit := recoveryCap(rec, now) * 1000
		b, ok := -1, false
		if v, has := st.ctx["key"]; has && v != nil {
			b, ok = canonicalBucket(f.recoverySalt, v)
		}
		if st.tr != nil {
			st.tr.overrideRecovery(f, rec, now, b, ok)
		}
		if ok && float64(b) < limit {
			return nil
		}
	} else if st.tr != nil {
		note := "applies"
		if o.src.Reason != "" {
			note += " (" + o.src.Reason + ")"
		}
		st.tr.leaf(StepOverride, "override serve "+quote(f.names[o.serve]), "", true, note)
	}
	return &o.result
}

// recoveryCap is the percentage of users a recovery ramp evaluates
// normally at now (now >= StartAt): min(100, start + step*floor((now -
// start_at)/every)).
func recoveryCap(rec *Recovery, now time.Time) float64 {
	return clockCap(rec.StartAt, rec.Start, rec.Step, rec.Every, now)
}

// tryRule evaluates rule i; it returns the result when the rule matched
// and chose a variant, else nil.
func (f *flag) tryRule(i int, r *rule, st *evalState) *Result {
	var step int
	if st.tr != nil {
		step = st.tr.begin(StepRule, ruleSubject(i, r), "")
	}
	if r.selective && !r.matches(st) {
		if st.tr != nil {
			st.tr.end(step, false, "")
		}
		return nil
	}
	if r.rollout == nil && r.ramp == nil {
		if st.tr != nil {
			st.tr.end(step, true, "serve "+quote(f.names[r.serve]))
		}
		return &r.result
	}
	v, has := st.ctx[r.by]
	b, ok := -1, false
	if has && v != nil {
		b, ok = canonicalBucket(f.salt, v)
	}
	if !ok {
		if st.tr != nil {
			st.tr.rolloutMissing(step, r, v, has)
		}
		return nil
	}
	if r.ramp != nil {
		now := st.time()
		limit := r.ramp.limit(unixNano(now))
		variant := r.ramp.otherwise
		if float64(b) < limit {
			variant = r.ramp.serve
		}
		if st.tr != nil {
			st.tr.rampChose(step, f, r, v, b, now, variant)
		}
		return &r.splits[variant]
	}
	variant := r.rollout[len(r.rollout)-1].variant
	for _, s := range r.rollout {
		if b < s.upTo {
			variant = s.variant
			break
		}
	}
	if st.tr != nil {
		st.tr.rolloutChose(step, f, r, v, b, variant)
	}
	return &r.splits[variant]
}

// matches reports whether every selector of r matches.
func (r *rule) matches(st *evalState) bool {
	if len(r.users) > 0 || r.userSet != nil {
		if !r.matchUsers(st) {
			return false
		}
	}
	if len(r.audiences) > 0 {
		if !r.matchAudiences(st) {
			return false
		}
	}
	if len(r.conds) > 0 {
		var step int
		if st.tr != nil {
			step = st.tr.begin(StepConditions, "conditions ("+matchName(r.matchAny)+")", "")
		}
		m := matchConditions(r.conds, r.matchAny, st)
		if st.tr != nil {
			st.tr.end(step, m, "")
		}
		return m
	}
	return true
}

// matchUsers reports whether the context's key is in the users list.
func (r *rule) matchUsers(st *evalState) bool {
	v := st.ctx["key"]
	key, ok := v.(string)
	m := false
	if ok {
		if r.userSet != nil {
			_, m = r.userSet[key]
		} else {
			for _, u := range r.users {
				if u == key {
					m = true
					break
				}
			}
		}
	}
	if st.tr != nil {
		st.tr.users(r, v, m)
	}
	return m
}

// matchAudiences reports whether the context is in any of r's audiences.
func (r *rule) matchAudiences(st *evalState) bool {
	var step int
	if st.tr != nil {
		step = st.tr.begin(StepAudiences, "audiences (any)", "")
	}
	m := false
	for _, a := range r.audiences {
		if a.contains(st) {
			m = true
			break
		}
	}
	if st.tr != nil {
		st.tr.end(step, m, "")
	}
	return m
}

// contains reports whether the context is in audience a.
func (a *audience) contains(st *evalState) bool {
	var step int
	if st.tr != nil {
		step = st.tr.begin(StepAudience, "audience "+a.key+" ("+matchName(a.matchAny)+")", "")
	}
	m := matchConditions(a.conds, a.matchAny, st)
	if st.tr != nil {
		st.tr.end(step, m, "")
	}
	return m
}

// matchConditions combines conditions: all of them, or any with matchAny.
// No conditions is true for all and false for any.
func matchConditions(conds []condition, matchAny bool, st *evalState) bool {
	for i := range conds {
		if conds[i].match(st) == matchAny {
			return matchAny
		}
	}
	return !matchAny
}

func matchName(matchAny bool) string {
	if matchAny {
		return "any"
	}
	return "all"
}
