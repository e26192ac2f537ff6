package main

import (
	"errors"
	"fmt"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
)

// cmdSchemaTransferMaster hands the family's schema mastership from the
// replica of --db, which must hold it, to --to (a name or an ID).
func cmdSchemaTransferMaster(e *env, args []string) error {
	fs := newFlags(e, "schema transfer-master")
	dbPath := fs.String("db", "", "database `file` of the replica that masters the schema"+dbKinds)
	to := fs.String("to", "", "the `replica` (name or ID) that is to master the schema")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("db", "to")(fs); err != nil {
		return err
	}
	db, err := openReplica(e, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := multisite.ReadStatus(e.ctx, db)
	if err != nil {
		return err
	}
	target, err := resolveReplica(st, *to)
	if err != nil {
		return err
	}
	who := names(st)
	named := func(id string) string {
		if n := who[replica.ID(id)]; n != "" {
			return n + " (" + id + ")"
		}
		return id
	}
	from, err := multisite.SchemaMaster(e.ctx, db)
	if err != nil {
		return err
	}
	same := target.ID == from
	if !same || from != st.Local.ID {
		// At the master, a hand-over to itself has nothing to write.
		err = multisite.TransferSchemaMaster(e.ctx, db, target.ID)
	}
	var nm *schema.NotSchemaMasterError
	var unknown *replica.UnknownError
	switch {
	case errors.As(err, &nm):
		return &explained{err: err, msg: fmt.Sprintf("refused: replica %s is not the family's schema master; only the schema master, %s, can hand the schema over (run schema transfer-master there); nothing changed",
			named(nm.Local), named(nm.Master))}
	case errors.As(err, &unknown):
		return &explained{err: err, msg: fmt.Sprintf("refused: replica %s is %s, not a member the schema can be handed to; nothing changed", target, target.State)}
	case err != nil:
		return err
	}
	if *asJSON {
		return writeJSON(e.stdout, struct {
			From        string `json:"from"`
			To          string `json:"to"`
			ToName      string `json:"to_name"`
			Transferred bool   `json:"transferred"`
		}{string(from), string(target.ID), target.Name, !same})
	}
	if same {
		fmt.Fprintf(e.stdout, "%s already masters the family's schema; nothing changed\n", named(string(from)))
		return nil
	}
	fmt.Fprintf(e.stdout, "schema mastership handed from %s to %s; the change travels in the next packet (syncreplica -export --to %s); once it is imported there, apply migrations at %s (schema migrate --db ITS_DB)\n",
		named(string(from)), named(string(target.ID)), target.Name, target.Name)
	return nil
}
