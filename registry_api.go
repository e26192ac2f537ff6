package multisite

import "github.com/multisite-go/multisite/internal/engine"

// ErrRegistryProof is returned, by ImportPacket, for a packet carrying a
// registry entry or an enrolment that the replica entitled to make it did
// not prove with its signature: another member's entry rewritten, a member
// made up under another's name, a removed replica brought back, a new key
// its replica's key in force did not endorse (a fork of a retired key), a
// second enrolment with a creation packet's used secret. The whole packet
// is refused and nothing changes.
var ErrRegistryProof = engine.ErrRegistryProof
