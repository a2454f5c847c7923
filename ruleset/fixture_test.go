package ruleset

// fixtureDoc is a wire Document modelled on DESIGN §2: nested audiences,
// users, rollouts of every flag type, an override with a recovery ramp.
const fixtureDoc = `{
  "version": "v1",
  "environment": "production",
  "commit": "abc123",
  "audiences": {
    "beta-testers": {"key": "beta-testers", "match": "any", "conditions": [
      {"attribute": "beta", "type": "boolean", "operator": "eq", "values": [true]},
      {"attribute": "email", "type": "string", "operator": "ends_with", "values": ["@flagpole.dev"]}
    ]},
    "west-coast-students": {"key": "west-coast-students", "match": "all", "conditions": [
      {"attribute": "state", "type": "string", "operator": "in", "values": ["CA", "WA", "OR"]},
      {"attribute": "student", "type": "boolean", "operator": "eq", "values": [true]},
      {"audience": "beta-testers"}
    ]},
    "adults": {"key": "adults", "conditions": [
      {"attribute": "age", "type": "number", "operator": "gte", "values": [18]}
    ]}
  },
  "flags": {
    "west-coast-student-banner": {
      "key": "west-coast-student-banner", "type": "boolean", "client": true,
      "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "enabled": true, "off": "off", "default": "off",
      "rules": [
        {"name": "internal testers", "users": ["audrey", "rob"], "serve": "on"},
        {"name": "west coast students", "audiences": ["west-coast-students"], "serve": "on"},
        {"name": "everyone else", "rollout": [{"variant": "on", "weight": 25000}, {"variant": "off", "weight": 75000}], "by": "key"}
      ]
    },
    "checkout-v2": {
      "key": "checkout-v2", "type": "boolean",
      "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "enabled": true, "off": "off", "default": "off",
      "rules": [{"rollout": [{"variant": "on", "weight": 50000}, {"variant": "off", "weight": 50000}]}]
    },
    "button-color": {
      "key": "button-color", "type": "string",
      "variants": [{"name": "red", "value": "#f00"}, {"name": "green", "value": "#0f0"}, {"name": "blue", "value": "#00f"}],
      "enabled": true, "off": "red", "default": "red",
      "rules": [
        {"name": "old apps", "conditions": [{"attribute": "app_version", "type": "semver", "operator": "lt", "values": ["2.0.0"]}], "serve": "red"},
        {"name": "split by org", "rollout": [{"variant": "red", "weight": 33334}, {"variant": "green", "weight": 33333}, {"variant": "blue", "weight": 33333}], "by": "org"}
      ]
    },
    "max-items": {
      "key": "max-items", "type": "number",
      "variants": [{"name": "small", "value": 10}, {"name": "large", "value": 100}],
      "enabled": true, "off": "small", "default": "small",
      "rules": [{"audiences": ["adults", "beta-testers"], "conditions": [{"attribute": "plan", "type": "string", "operator": "eq", "values": ["pro"]}], "serve": "large"}]
    },
    "theme": {
      "key": "theme", "type": "json",
      "variants": [{"name": "light", "value": {"bg": "white", "sizes": [1, 2]}}, {"name": "dark", "value": {"bg": "black"}}],
      "enabled": false, "off": "light", "default": "dark"
    },
    "new-search": {
      "key": "new-search", "type": "boolean",
      "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "enabled": true, "off": "off", "default": "on"
    }
  },
  "overrides": {
    "new-search": {
      "flag": "new-search", "environment": "production", "serve": "off",
      "reason": "breaker: error rate 12.4% > 5%", "by": "breaker",
      "at": "2026-11-21T10:00:00Z",
      "expires": "2026-11-21T12:00:00Z",
      "recovery": {"start_at": "2026-11-21T10:05:00Z", "start": 10, "step": 10, "every": "1m"}
    }
  }
}`
