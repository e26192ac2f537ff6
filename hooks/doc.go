// Package hooks defines the Go hooks the library calls at defined points of
// its work, so that an administrator's own code can automate what
// ClearQuest MultiSite sites did with Perl and VB hooks: move mastership
// when a record is assigned to someone at another site, grant or deny
// mastership requests, react to key collisions, audit every imported change.
//
// A Hooks value is a set of optional functions; the zero value runs none.
// Pass it in the options of the operation (export, import, write). A hook
// runs inside the operation's transaction and receives a Tx through which
// it may read and, where the point allows, act (for example transfer
// mastership of a row). A hook that returns an error aborts the whole
// operation: the transaction rolls back and the caller gets a *Error that
// names the hook point and wraps the hook's error, so nothing is changed.
//
// Where each hook runs:
//
//   - BeforeExport: in ExportPacket's seal transaction, which holds the
//     write lock, after the export's mastership policy and before the
//     pending local changes are sealed into an epoch; it sees every change
//     that epoch will carry, and transfers it makes are sealed with them
//     and travel in the packet being written.
//   - AfterImportChange and AfterImportPacket: in ImportPacket's
//     transaction, after the changes are applied and before the commit.
//   - OnRequest and OnCollision: in the transaction of the import (or
//     operation) that meets the request or the collision.
//   - OnRefusedWrite: after multisite.Write rolled back a write refused for
//     mastership; it has no transaction and cannot undo the refusal.
//
// Writes a hook makes through its Tx are ordinary local writes, even
// during an import: they are captured and exported later, and a write to
// a row another replica masters fails with a *mastership.NotMasterError.
//
// Example: a BeforeExport hook that sends every changed defect to the site
// of its owner (see examples/hooks for the whole program):
//
//	h := &hooks.Hooks{BeforeExport: func(ctx context.Context, tx hooks.Tx, e hooks.Export) error {
//		for _, c := range e.Changes {
//			if c.Table != "defect" || c.Op == hooks.Delete || c.Master != tx.Local() {
//				continue
//			}
//			var site string
//			if err := tx.QueryRowContext(ctx, `SELECT site FROM users WHERE login = ?`, c.Values["owner"]).Scan(&site); err != nil {
//				return err
//			}
//			if to, ok := tx.Replica(site); ok && to.ID != tx.Local() {
//				if err := tx.Transfer(ctx, c.Table, c.Key, to.ID); err != nil {
//					return err
//				}
//			}
//		}
//		return nil
//	}}
//	_, err := multisite.ExportPacket(ctx, db, target, w, multisite.ExportOptions{Hooks: h})
//
// The package holds only types; it imports nothing of multisite but the
// replica identifiers, so hook code can live in its own package.
package hooks
