// Command etcd is the etcd server, built from go.etcd.io/etcd/server/v3 (the version
// k8s.io/kubernetes pins) because no etcd binary can be downloaded on the build machines.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
