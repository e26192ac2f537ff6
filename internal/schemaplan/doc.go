// Package schemaplan plans the library's DDL for one dialect: the
// metadata tables and their upgrades, what activation adds to each table
// and deactivation removes, the triggers, and the charset enforcement. It
// returns schema.Plan values, which schema.Apply runs. Only the engine
// imports it; users see the plans through multisite.PlanActivation and
// its siblings.
package schemaplan
