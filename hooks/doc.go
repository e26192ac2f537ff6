// Package hooks will hold the interfaces of Go hooks the library calls at
// defined points (before export, after import, on a mastership request, on a
// key collision, on a refused write). It holds interfaces only and imports
// nothing else from multisite.
//
// Experimental: the hook points arrive with the mastership issue; today the
// package defines no hook yet.
package hooks
