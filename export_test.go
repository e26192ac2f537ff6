package multisite

// PublicErrorForTest exposes publicError to the external tests.
var PublicErrorForTest = publicError
