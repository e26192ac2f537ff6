package multisite

// This file is the boundary between the public types of package multisite
// and those of internal/engine and internal/dialect: every conversion
// lives here, so a field added on one side is added on the other in one
// place. TestFacadeFields fails when an engine type gains a field its
// public twin lacks.

import (
	"errors"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/engine"
	"github.com/multisite-go/multisite/replica"
)

// Options, public to engine.

func engineImportOptions(o ImportOptions) engine.ImportOptions {
	return engine.ImportOptions{
		Logger:        o.Logger,
		MaxPacketSize: packetLimit(o.MaxPacketSize, DefaultMaxPacketSize),
		MaxRowSize:    rowLimit(o.MaxRowSize),
		MaxRecords:    o.MaxRecords,
		MaxMeta:       o.MaxMeta,
		Hooks:         o.Hooks,
		Progress:      o.Progress,
		OnProgress:    engineOnProgress(o.OnProgress),
	}
}

func engineCreateOptions(o CreateOptions) engine.CreateOptions {
	return engine.CreateOptions{
		Logger:        o.Logger,
		OriginKey:     o.OriginKey,
		MaxPacketSize: packetLimit(o.MaxPacketSize, DefaultMaxCreationSize),
		MaxRowSize:    rowLimit(o.MaxRowSize),
		MaxRecords:    o.MaxRecords,
		MaxMeta:       o.MaxMeta,
		Progress:      o.Progress,
		OnProgress:    engineOnProgress(o.OnProgress),
	}
}

// engineOnProgress wraps a public progress callback, or returns nil.
func engineOnProgress(fn func(ImportProgress)) func(engine.ImportProgress) {
	if fn == nil {
		return nil
	}
	return func(p engine.ImportProgress) { fn(importProgress(p)) }
}

func importProgress(p engine.ImportProgress) ImportProgress {
	return ImportProgress{Phase: p.Phase, PacketBytes: p.PacketBytes, PacketSize: p.PacketSize, Bytes: p.Bytes, Rows: p.Rows}
}

// rowLimit applies DefaultMaxRowSize to 0 or less.
func rowLimit(n int64) int64 {
	if n <= 0 {
		return DefaultMaxRowSize
	}
	return n
}

// packetLimit turns the public rule (0: the default; negative: no limit)
// into the engine's (0: no limit).
func packetLimit(n, def int64) int64 {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

// engineExportOptions converts o; recover, if non-nil, makes the export a
// recovery packet resending everything after it.
func engineExportOptions(o ExportOptions, recover replica.Vector) engine.ExportOptions {
	return engine.ExportOptions{
		Logger:       o.Logger,
		Progress:     o.Progress,
		Recover:      recover,
		Uncompressed: o.Uncompressed,
		Policy:       o.Policy,
		Hooks:        o.Hooks,
		ResendAfter:  o.ResendAfter,
		MaxSize:      o.MaxSize,
		NextPart:     o.NextPart,
	}
}

func engineCharsetOptions(o CharsetOptions) engine.CharsetOptions {
	eo := engine.CharsetOptions{Tables: o.Tables, Max: o.Max}
	if fn := o.OnViolation; fn != nil {
		eo.OnViolation = func(v engine.CharsetViolation) error { return fn(charsetViolation(v)) }
	}
	return eo
}

func engineCleanOptions(o CleanOptions) engine.CleanOptions {
	return engine.CleanOptions{Strategy: o.Strategy, Replacement: o.Replacement, Apply: o.Apply, Tables: o.Tables}
}

func engineCollisionFilter(f CollisionFilter) engine.CollisionFilter {
	ef := engine.CollisionFilter{Table: f.Table, ID: engine.CollisionID(f.ID)}
	for _, s := range f.States {
		ef.States = append(ef.States, engine.CollisionState(s))
	}
	return ef
}

func engineRequestFilter(f RequestFilter) engine.RequestFilter {
	ef := engine.RequestFilter{ID: engine.RequestID(f.ID), Table: f.Table, Requester: f.Requester, Master: f.Master}
	for _, s := range f.States {
		ef.States = append(ef.States, engine.RequestState(s))
	}
	return ef
}

// Reports, engine to public.

func exportStats(s engine.ExportStats) ExportStats {
	return ExportStats{Target: s.Target, Epoch: s.Epoch, Rows: s.Rows, Deletes: s.Deletes, Transfers: s.Transfers, Tables: s.Tables, Bytes: s.Bytes, Parts: s.Parts, Base: s.Base}
}

func importReport(r *engine.ImportReport) *ImportReport {
	if r == nil {
		return nil
	}
	out := &ImportReport{
		Origin:      r.Origin,
		Kind:        r.Kind,
		Epochs:      r.Epochs,
		Transfers:   r.Transfers,
		Duplicate:   r.Duplicate,
		RefusedKeys: r.RefusedKeys,
		Part:        r.Part,
		Parts:       r.Parts,
		Held:        r.Held,
		Missing:     r.Missing,
		Restored:    r.Restored,
		CodePage:    r.CodePage,
		Migrated:    r.Migrated,
		Bytes:       r.Bytes,
		Collisions:  r.Collisions,
	}
	if r.Tables != nil {
		out.Tables = make(map[string]*TableCounts, len(r.Tables))
		for t, c := range r.Tables {
			if c == nil {
				out.Tables[t] = nil
				continue
			}
			out.Tables[t] = &TableCounts{Inserted: c.Inserted, Updated: c.Updated, Deleted: c.Deleted, Unchanged: c.Unchanged}
		}
	}
	out.Conflicts = convertSlice(r.Conflicts, func(c engine.Conflict) Conflict {
		return Conflict{Table: c.Table, Key: c.Key, Winner: c.Winner, Loser: c.Loser, Version: c.Version}
	})
	return out
}

func charsetViolation(v engine.CharsetViolation) CharsetViolation {
	return CharsetViolation{Table: v.Table, Key: v.Key, Column: v.Column, Offset: v.Offset, Rune: v.Rune, Char: v.Char}
}

func engineCharsetViolation(v CharsetViolation) engine.CharsetViolation {
	return engine.CharsetViolation{Table: v.Table, Key: v.Key, Column: v.Column, Offset: v.Offset, Rune: v.Rune, Char: v.Char}
}

func narrowColumns(cs []engine.NarrowColumn) []NarrowColumn {
	return convertSlice(cs, func(c engine.NarrowColumn) NarrowColumn {
		return NarrowColumn{Table: c.Table, Column: c.Column, Charset: c.Charset}
	})
}

func charsetReport(r *engine.CharsetReport) *CharsetReport {
	if r == nil {
		return nil
	}
	return &CharsetReport{
		CodePage: r.CodePage, Tables: r.Tables, Rows: r.Rows, Strings: r.Strings, Bytes: r.Bytes,
		Violations: convertSlice(r.Violations, charsetViolation), Truncated: r.Truncated, Columns: narrowColumns(r.Columns),
	}
}

func charsetStatus(s *engine.CharsetStatus) *CharsetStatus {
	if s == nil {
		return nil
	}
	return &CharsetStatus{CodePage: s.CodePage, InDatabase: s.InDatabase, Enforced: s.Enforced, Tables: s.Tables, Missing: s.Missing, Columns: narrowColumns(s.Columns)}
}

func status(s *engine.Status) *Status {
	if s == nil {
		return nil
	}
	return &Status{Family: s.Family, Local: s.Local, CodePage: s.CodePage, Epoch: s.Epoch, Replicas: s.Replicas, Matrix: s.Matrix, KeyRange: s.KeyRange, Tables: s.Tables, Pending: s.Pending}
}

func cleanReport(r *engine.CleanReport) *CleanReport {
	if r == nil {
		return nil
	}
	return &CleanReport{
		CodePage: r.CodePage, Applied: r.Applied, Elsewhere: r.Elsewhere,
		Changes: convertSlice(r.Changes, func(c engine.CleanChange) CleanChange {
			return CleanChange{Table: c.Table, Key: c.Key, Column: c.Column, Before: c.Before, After: c.After, Master: c.Master, Applied: c.Applied}
		}),
	}
}

func pruneStats(s engine.PruneStats) PruneStats {
	return PruneStats{Tombstones: s.Tombstones, Transfers: s.Transfers, Requests: s.Requests, Horizon: s.Horizon}
}

func migrateReport(r *engine.MigrateReport) *MigrateReport {
	if r == nil {
		return nil
	}
	return &MigrateReport{From: r.From, To: r.To, Applied: r.Applied, Replicated: r.Replicated, Changed: r.Changed, Dropped: r.Dropped, Plan: r.Plan}
}

func migrationStatuses(ss []engine.MigrationStatus) []MigrationStatus {
	return convertSlice(ss, func(s engine.MigrationStatus) MigrationStatus {
		return MigrationStatus{Version: s.Version, Name: s.Name, Applied: s.Applied, AppliedAt: s.AppliedAt, AppliedBy: s.AppliedBy, Changed: s.Changed, Missing: s.Missing}
	})
}

func collisionRecord(r engine.CollisionRecord) CollisionRecord {
	return CollisionRecord{
		ID: CollisionID(r.ID), Table: r.Table, Columns: r.Columns, Value: r.Value, Key: r.Key, KeptKey: r.KeptKey,
		Column: r.Column, Original: r.Original, Renamed: r.Renamed, Winner: r.Winner, Loser: r.Loser,
		State: CollisionState(r.State), Version: r.Version, Detected: r.Detected, Updated: r.Updated,
	}
}

func collisionRecords(rs []engine.CollisionRecord) []CollisionRecord {
	return convertSlice(rs, collisionRecord)
}

func masteredRow(r engine.MasteredRow) MasteredRow {
	return MasteredRow{Table: r.Table, Key: r.Key, Master: r.Master}
}

func masteryReport(r *engine.MasteryReport) *MasteryReport {
	if r == nil {
		return nil
	}
	return &MasteryReport{
		Local: r.Local, Names: r.Names, Counts: r.Counts,
		Rows:      convertSlice(r.Rows, masteredRow),
		Truncated: r.Truncated,
		Transfers: convertSlice(r.Transfers, func(t engine.TransferInFlight) TransferInFlight {
			return TransferInFlight{Table: t.Table, Key: t.Key, Version: t.Version, From: t.From, To: t.To, Epoch: t.Epoch}
		}),
		Requests: convertSlice(r.Requests, func(q engine.RequestInFlight) RequestInFlight {
			return RequestInFlight{ID: RequestID(q.ID), Table: q.Table, Key: q.Key, From: q.From, Master: q.Master, State: RequestState(q.State)}
		}),
	}
}

func request(r engine.MastershipRequest) Request {
	return Request{
		ID: RequestID(r.ID), Table: r.Table, Key: r.Key, Requester: r.Requester, Master: r.Master,
		State: RequestState(r.State), Reason: r.Reason, Answer: r.Answer, Hops: r.Hops,
		Created: r.Created, Updated: r.Updated, Version: r.Version, Origin: r.Origin, Epoch: r.Epoch,
		Delivered: r.Delivered,
	}
}

func requests(rs []engine.MastershipRequest) []Request {
	return convertSlice(rs, request)
}

// convertSlice converts every element of in with f; nil stays nil and
// empty stays empty, so JSON output reads the same as the engine's.
func convertSlice[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// Errors. The engine returns its own typed errors; publicError puts the
// public twin in front of the chain, so errors.As finds *CharsetError and
// the rest, while the message and every sentinel stay as they were.

// translatedError is an engine error seen through its public twin.
type translatedError struct {
	public error // the public typed error
	err    error // the original chain, with its context
}

func (e *translatedError) Error() string   { return e.err.Error() }
func (e *translatedError) Unwrap() []error { return []error{e.public, e.err} }

// withPublicError passes v through and translates err, for a call
// returning one value and an error.
func withPublicError[T any](v T, err error) (T, error) { return v, publicError(err) }

// publicError returns err with its first engine or dialect typed error
// translated to the public type of this package; nil and errors without
// one are returned unchanged.
func publicError(err error) error {
	if err == nil {
		return nil
	}
	var pub error
	var (
		ce  *engine.CharsetError
		me  *engine.MismatchError
		sve *dialect.ServerVersionError
		mre *engine.MastersRowsError
		pe  *engine.PrunedError
		fke *engine.ForeignKeyError
		cle *engine.CollisionError
		ame *engine.AlreadyMasterError
		rse *engine.RequestStateError
		nre *engine.NoRowError
		ine *dialect.InexactError
		nme *dialect.NameError
	)
	switch {
	case errors.As(err, &ce):
		pub = &CharsetError{CodePage: ce.CodePage, Table: ce.Table, Key: ce.Key, Column: ce.Column, Offset: ce.Offset, Rune: ce.Rune, Char: ce.Char, Storage: ce.Storage}
	case errors.As(err, &me):
		pub = &MismatchError{Field: me.Field, Want: me.Want, Got: me.Got, Err: me.Err}
	case errors.As(err, &sve):
		pub = &ServerVersionError{Dialect: Dialect(sve.Dialect), Version: sve.Version, Min: sve.Min}
	case errors.As(err, &mre):
		pub = &MastersRowsError{Replica: mre.Replica, Tables: mre.Tables}
	case errors.As(err, &pe):
		pub = &PrunedError{Target: pe.Target, Origin: pe.Origin, Has: pe.Has, Pruned: pe.Pruned}
	case errors.As(err, &fke):
		pub = &ForeignKeyError{Table: fke.Table, Constraint: fke.Constraint, Columns: fke.Columns, RefTable: fke.RefTable, Values: fke.Values, Action: fke.Action}
	case errors.As(err, &cle):
		pub = &CollisionError{Table: cle.Table, Columns: cle.Columns, Value: cle.Value}
	case errors.As(err, &ame):
		pub = &AlreadyMasterError{Table: ame.Table, Key: ame.Key, Master: ame.Master}
	case errors.As(err, &rse):
		pub = &RequestStateError{ID: RequestID(rse.ID), State: RequestState(rse.State), Master: rse.Master, Local: rse.Local}
	case errors.As(err, &nre):
		pub = &NoRowError{Table: nre.Table, Key: nre.Key}
	case errors.As(err, &ine):
		pub = &InexactError{Dialect: Dialect(ine.Dialect), Table: ine.Table, Column: ine.Column, Type: ine.Type, Value: ine.Value, Reason: ine.Reason}
	case errors.As(err, &nme):
		pub = &NameError{Dialect: Dialect(nme.Dialect), Name: nme.Name, Reason: nme.Reason}
	default:
		return err
	}
	return &translatedError{public: pub, err: err}
}

// The public errors' messages are the engine's, so there is one wording.

func engineCharsetError(e *CharsetError) *engine.CharsetError {
	return &engine.CharsetError{CodePage: e.CodePage, Table: e.Table, Key: e.Key, Column: e.Column, Offset: e.Offset, Rune: e.Rune, Char: e.Char, Storage: e.Storage}
}

func engineMismatchError(e *MismatchError) *engine.MismatchError {
	return &engine.MismatchError{Field: e.Field, Want: e.Want, Got: e.Got, Err: e.Err}
}

func engineMastersRowsError(e *MastersRowsError) *engine.MastersRowsError {
	return &engine.MastersRowsError{Replica: e.Replica, Tables: e.Tables}
}

func enginePrunedError(e *PrunedError) *engine.PrunedError {
	return &engine.PrunedError{Target: e.Target, Origin: e.Origin, Has: e.Has, Pruned: e.Pruned}
}

func engineForeignKeyError(e *ForeignKeyError) *engine.ForeignKeyError {
	return &engine.ForeignKeyError{Table: e.Table, Constraint: e.Constraint, Columns: e.Columns, RefTable: e.RefTable, Values: e.Values, Action: e.Action}
}

func engineCollisionError(e *CollisionError) *engine.CollisionError {
	return &engine.CollisionError{Table: e.Table, Columns: e.Columns, Value: e.Value}
}

func engineAlreadyMasterError(e *AlreadyMasterError) *engine.AlreadyMasterError {
	return &engine.AlreadyMasterError{Table: e.Table, Key: e.Key, Master: e.Master}
}

func engineRequestStateError(e *RequestStateError) *engine.RequestStateError {
	return &engine.RequestStateError{ID: engine.RequestID(e.ID), State: engine.RequestState(e.State), Master: e.Master, Local: e.Local}
}
