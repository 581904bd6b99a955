//go:build race

package proxy

// Race-detector builds: read and write through the syscall package, whose
// happens-before annotations the raw calls lack (see tcpraw.go, rawio.go);
// the copy reads until EAGAIN.

type inqRecv struct{}

func (r *inqRecv) enable(fd int) {}

func (r *inqRecv) recv(fd int, p []byte) (n, inq int, err error) {
	n, err = sysRead(fd, p)
	return n, -1, err
}

func (r *inqRecv) inqOn() bool { return false }
