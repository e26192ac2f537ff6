package schema

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels of the schema toolkit, for errors.Is. Each typed error below
// unwraps to one of them.
var (
	// ErrNewerFormat is returned for a database whose metadata tables were
	// written by a newer library than this one.
	ErrNewerFormat = errors.New("schema: metadata written by a newer library")
	// ErrOlderFormat is returned where a database's metadata tables are of an
	// older format and must be upgraded first (multisite.UpgradeMetadata;
	// every operation of the multisite package does it by itself).
	ErrOlderFormat = errors.New("schema: metadata of an older format")
	// ErrNeedVersion is returned for a packet made at another schema version
	// than the receiving replica's.
	ErrNeedVersion = errors.New("schema: another schema version is needed")
	// ErrChecksum is returned when a migration's text differs from the text
	// applied under the same version, here or elsewhere in the family.
	ErrChecksum = errors.New("schema: migration checksum mismatch")
	// ErrNotSchemaMaster is returned when a replica other than the family's
	// schema master tries to apply a migration or hand the schema on.
	ErrNotSchemaMaster = errors.New("schema: replica is not the schema master")
	// ErrUnknownVersion is returned for a migration version that no
	// registered migration has.
	ErrUnknownVersion = errors.New("schema: unknown migration version")
	// ErrInvalidMigration is returned for a migration list that cannot be
	// applied as given (duplicate or non-positive versions, a migration
	// below the applied ones, SQL that does not split, a new table without
	// a primary key).
	ErrInvalidMigration = errors.New("schema: invalid migration")
	// ErrNoDialectSQL is returned for a migration that has SQL, but none for
	// the dialect of the replica that must apply it.
	ErrNoDialectSQL = errors.New("schema: migration has no SQL for this dialect")
)

// VersionError reports metadata tables of another format than this library
// writes. Have is the database's format, Want this library's. It unwraps to
// ErrNewerFormat if Have > Want, else to ErrOlderFormat.
type VersionError struct {
	Have, Want int
}

func (e *VersionError) Error() string {
	if e.Have > e.Want {
		return fmt.Sprintf("schema: database metadata is format %d, this library reads formats up to %d; upgrade the library", e.Have, e.Want)
	}
	return fmt.Sprintf("schema: database metadata is format %d, this library needs format %d; run multisite.UpgradeMetadata", e.Have, e.Want)
}

// Unwrap returns ErrNewerFormat or ErrOlderFormat.
func (e *VersionError) Unwrap() error {
	if e.Have > e.Want {
		return ErrNewerFormat
	}
	return ErrOlderFormat
}

// NeedVersionError tells a replica which schema version it needs: Replica
// is at Have and must reach Need before the packet can be applied. When the
// receiving replica is behind, Replica is the receiver and the migrations
// come with any packet of a replica at Need (the packet's sender forgot
// none: every packet carries the family's migrations); when the sender is
// behind, Replica is the sender, which must import a packet carrying the
// migrations first and then export again. Nothing is lost meanwhile: a
// refused packet acknowledges nothing, so its changes are sent again.
type NeedVersionError struct {
	Replica    string
	Have, Need int64
}

func (e *NeedVersionError) Error() string {
	return fmt.Sprintf("schema: replica %s is at schema version %d and needs version %d; the packet was not applied and its changes will be sent again", e.Replica, e.Have, e.Need)
}

// Unwrap returns ErrNeedVersion.
func (e *NeedVersionError) Unwrap() error { return ErrNeedVersion }

// ChecksumError reports a migration whose text differs from the text
// applied under its version. Want is the checksum recorded where it was
// applied, Got the checksum of the text given now.
type ChecksumError struct {
	Version   int64
	Name      string
	Want, Got string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("schema: migration %d (%s) was applied with checksum %.12s, its text now has %.12s; an applied migration must not change: add a new migration instead", e.Version, e.Name, e.Want, e.Got)
}

// Unwrap returns ErrChecksum.
func (e *ChecksumError) Unwrap() error { return ErrChecksum }

// NotSchemaMasterError reports a migration (or a hand-over of the schema)
// attempted at Local while Master masters the family's schema.
type NotSchemaMasterError struct {
	Local, Master string
}

func (e *NotSchemaMasterError) Error() string {
	return fmt.Sprintf("schema: replica %s is not the schema master; migrations are applied at %s and reach the other replicas in packets", e.Local, e.Master)
}

// Unwrap returns ErrNotSchemaMaster.
func (e *NotSchemaMasterError) Unwrap() error { return ErrNotSchemaMaster }

// UnknownVersionError reports a migration version that none of Known has.
type UnknownVersionError struct {
	Version int64
	Known   []int64
}

func (e *UnknownVersionError) Error() string {
	ks := make([]string, len(e.Known))
	for i, k := range e.Known {
		ks[i] = fmt.Sprint(k)
	}
	return fmt.Sprintf("schema: no migration has version %d (known: %s)", e.Version, strings.Join(ks, ", "))
}

// Unwrap returns ErrUnknownVersion.
func (e *UnknownVersionError) Unwrap() error { return ErrUnknownVersion }

// DialectError reports a migration with SQL for other dialects than the
// one that must apply it.
type DialectError struct {
	Version int64
	Name    string
	Dialect string
}

func (e *DialectError) Error() string {
	return fmt.Sprintf("schema: migration %d (%s) has no SQL for %s; give it Up (for every dialect) or SQL[%q]", e.Version, e.Name, e.Dialect, e.Dialect)
}

// Unwrap returns ErrNoDialectSQL.
func (e *DialectError) Unwrap() error { return ErrNoDialectSQL }
