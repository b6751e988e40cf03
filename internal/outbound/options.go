package outbound

import "time"

// HTTPOptions bound the outbound calls of one client. The zero value means
// DefaultHTTPOptions; otherwise zero fields take their defaults, except RetryMax (0: no retry).
type HTTPOptions struct {
	// Timeout bounds each attempt.
	Timeout time.Duration
	// RetryMax is the number of retries after the first attempt.
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the exponential backoff (and a Retry-After).
	RetryWaitMin, RetryWaitMax time.Duration
}

// DefaultHTTPOptions are the outbound call bounds used when none are given.
var DefaultHTTPOptions = HTTPOptions{Timeout: 10 * time.Second, RetryMax: 4, RetryWaitMin: 250 * time.Millisecond, RetryWaitMax: 5 * time.Second}

// WithDefaults fills the zero fields.
func (o HTTPOptions) WithDefaults() HTTPOptions {
	if o == (HTTPOptions{}) {
		return DefaultHTTPOptions
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultHTTPOptions.Timeout
	}
	if o.RetryMax < 0 {
		o.RetryMax = 0
	}
	if o.RetryWaitMin <= 0 {
		o.RetryWaitMin = DefaultHTTPOptions.RetryWaitMin
	}
	if o.RetryWaitMax < o.RetryWaitMin {
		o.RetryWaitMax = max(DefaultHTTPOptions.RetryWaitMax, o.RetryWaitMin)
	}
	return o
}
