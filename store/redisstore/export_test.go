package redisstore

// OnSent sets a function that runs after each publish's script, before
// the publisher records the outcome: Redis has announced the version and
// lists it, and this process does not know yet.
func (r *Redis) OnSent(f func(env string)) { r.onSent = f }
