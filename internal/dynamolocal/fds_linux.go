package dynamolocal

import (
	"os"
	"strconv"
	"syscall"
)

// closeInheritedOnExec marks every descriptor above stderr close-on-exec, so that DynamoDB
// Local, which the exec'd script becomes, holds none of them. Go opens its
// own descriptors close-on-exec, but a process can inherit others without the flag: a
// `go test -fuzz` worker gets the coordinator's pipes as descriptors 3 and 4. A server that
// held them would keep the pipes open after the worker died, and the coordinator would wait
// on them forever ("gathering baseline coverage: 0/10" until CI's deadline).
func closeInheritedOnExec() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		syscall.CloseOnExec(fd)
	}
}
