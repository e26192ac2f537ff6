package engine

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/replica"
)

// RestoreReplica is run on a replica's database right after it was
// restored from an older backup of itself. The replica's registry entry
// gets a new incarnation and the replica goes into the restoring state:
// it refuses local writes and seals no epoch. Its next packets tell every
// member, which then forget what they believed it holds and resend what it
// lost, including the changes it made itself after the backup. Imports
// skip its epoch counter past every epoch others have seen from it, and
// once every writing member has sent such a packet it is active again.
func RestoreReplica(ctx context.Context, db *sql.DB, d dialect.Dialect) (replica.Info, error) {
	var self replica.Info
	err := inTx(ctx, db, d, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE ms_ctl SET epoch = epoch`); err != nil { // take the write lock
			return err
		}
		c, err := LoadCtl(ctx, tx, d)
		if err != nil {
			return err
		}
		if c.State == replica.Removed || c.State == replica.ReceiveOnly {
			return fmt.Errorf("%w: a %s replica cannot be restored; create it again from a creation packet", ErrState, c.State)
		}
		reg, err := Registry(ctx, tx)
		if err != nil {
			return err
		}
		self = replica.Restored(reg[c.Local])
		if err := putReplica(ctx, tx, d, self, true); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM ms_restore`); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, d.Rebind(`UPDATE ms_ctl SET state = ?`), string(replica.Restoring))
		return err
	})
	return self, err
}
