// Command walship is the change-data-capture daemon and its operator tools.
package main

import "os"

func main() {
	os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
}
