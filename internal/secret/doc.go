// Package secret reads credentials when they are needed: a value given once (from the
// environment) or a mounted file re-read as it rotates (a Secret key, a service account
// token).
package secret
