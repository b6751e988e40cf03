package dynamolocal

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/testkit"
)

// killHelperEnv makes the test binary, re-executed by TestServerDiesWithTheTestProcess, a
// test process that starts DynamoDB Local, prints the server's pid and endpoint, and hangs.
const killHelperEnv = "DYNAMOLOCAL_KILL_HELPER"

// A test process killed with SIGKILL runs no cleanup: its DynamoDB Local must die with it
// (as a fuzz worker's does when the fuzz coordinator kills it), not linger at ~250 MB.
func TestServerDiesWithTheTestProcess(t *testing.T) {
	if os.Getenv(killHelperEnv) == "1" {
		s, err := start()
		if err != nil {
			fmt.Println("error:", strings.ReplaceAll(err.Error(), "\n", " "))
			os.Exit(1)
		}
		fmt.Println(s.cmd.Process.Pid, s.endpoint)
		select {} // until killed
	}
	helper := exec.Command(os.Args[0], "-test.run=^TestServerDiesWithTheTestProcess$")
	helper.Env = append(os.Environ(), killHelperEnv+"=1")
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = helper.Process.Kill()
		_ = helper.Wait()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the helper's server: %v", err)
	}
	var pid int
	var endpoint string
	if _, err := fmt.Sscan(line, &pid, &endpoint); err != nil {
		t.Fatalf("helper printed %q, want PID ENDPOINT", line)
	}
	t.Cleanup(func() {
		if t.Failed() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if !bytes.Contains(cmdline, []byte("DynamoDBLocal.jar")) {
		t.Fatalf("process %d is %q, want the DynamoDB Local JVM itself", pid, cmdline)
	}
	resp, err := http.Get(endpoint + "/")
	if err != nil {
		t.Fatalf("the helper's DynamoDB Local does not answer: %v", err)
	}
	resp.Body.Close()

	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testkit.WaitGone(t, pid, 30*time.Second)
}
