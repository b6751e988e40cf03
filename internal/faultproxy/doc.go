// Package faultproxy is a test helper: an HTTP reverse proxy on 127.0.0.1 in front of
// DynamoDB Local that injects the faults a real network and a real DynamoDB produce, so
// tests can run `dynamo-cmp generate` (as a fresh process) through it and check that every
// failure ends in either the full, correct stream or a clean error.
//
//	p := faultproxy.Start(t, endpoint)             // endpoint: DynamoDB Local, http://127.0.0.1:PORT
//	p.Inject(faultproxy.First(2, faultproxy.Throttle(faultproxy.ProvisionedThroughputExceeded)))
//	// point AWS_ENDPOINT_URL_DYNAMODB at p.URL(), run generate, then:
//	p.Requests(), p.Injected(), p.Calls("Query"), p.FirstRequest()
//
// Faults: added latency, a connection reset (RST), 5xx answers, DynamoDB throttling answers
// (ProvisionedThroughputExceededException, ThrottlingException) with the headers and JSON
// body AWS sends, a response cut off after its headers and part of its body, and a request
// that is never answered. A rule applies to the first N matching requests or to every
// request, optionally only to one DynamoDB operation. Every request is counted and logged
// with its arrival time.
//
// The proxy listens on 127.0.0.1 only and forwards to loopback endpoints only.
package faultproxy
