package schema

// LatestFormat is the format of the metadata tables this library writes.
// A database of an older format is upgraded in place
// (multisite.UpgradeMetadata); one of a newer format is refused with a
// *VersionError.
const LatestFormat = 12
