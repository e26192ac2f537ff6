// Package dialect holds everything that differs between database vendors:
// identifier quoting, placeholders, introspection, the DDL of the metadata
// tables, the injected mastership field, the change-capture and enforcement
// triggers, and the upsert used by import. One file per dialect; nothing
// outside this package switches on the vendor.
//
// Table and column names reaching this package come from the local
// database's own catalog, never from a packet: an importer matches a
// packet's names against the catalog first and passes on the local names.
package dialect
