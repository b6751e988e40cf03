// Package msgfmt formats values for the error messages of the core packages: shortened,
// quoted and described the same way everywhere.
package msgfmt
