// Package engine implements what the multisite façade promises: activation,
// replica creation, sealing, export, import and mastership transfer, on any
// dialect from internal/dialect. It moves bytes between the database and
// syncpkt; the root package checks arguments and delegates here.
package engine
