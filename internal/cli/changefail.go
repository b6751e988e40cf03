package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// deadlineFailure is the one readable paragraph (generate's style: what failed, why, what to
// do, the trace id) of a publish or rollback that ran out of time; nil when err is not that.
func deadlineFailure(verb string, ref config.LayerRef, timeout time.Duration, trace string, err error) error {
	if !errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	reason := strings.TrimSuffix(strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(err.Error()), ".")
	return withCode(exitCode(err), fmt.Errorf("dynamo-cmp could not %s %s: the command did not finish within its %s deadline (%s). "+
		"The layer's head most likely did not move; if the deadline struck while it was moving, the change may have gone through: "+
		"dynamo-cmp config history --layer %s shows which version is the head (a version begun and never finished is listed as interrupted and is harmless). "+
		"Run the command again, or allow it more time with --timeout (env DYNAMO_CMP_TIMEOUT). [trace %s]",
		verb, ref, timeout, reason, ref, trace))
}
