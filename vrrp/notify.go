package vrrp

import (
	"context"
	"os/exec"
	"strings"
	"time"
)

const (
	// notifyTimeout bounds one notify command run by execNotify.
	notifyTimeout = 30 * time.Second
	// notifyQueue is how many commands may wait; more are skipped.
	notifyQueue = 32
	// shutdownNotifyDrain is how long Run waits at stop for queued
	// commands.
	shutdownNotifyDrain = 10 * time.Second
)

// execNotify runs a notify command without a shell, with a timeout.
func execNotify(cmd string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	return exec.CommandContext(ctx, cmd, args...).Run()
}

// notify records a transition and queues its command, if any.
func (n *Node) notify(a Notify) {
	now := n.clock.Now()
	n.mu.Lock()
	n.st.LastTransition = now
	n.st.LastReason = a.Reason
	n.st.Transitions++
	n.mu.Unlock()
	to := a.To.String()
	cmd := ""
	switch a.To {
	case Master:
		cmd = n.cfg.Notify.Master
	case Backup:
		cmd = n.cfg.Notify.Backup
	case Fault:
		cmd = n.cfg.Notify.Fault
	case Init:
		cmd, to = n.cfg.Notify.Stop, "STOP"
	}
	n.log.Info("vrrp transition", "from", a.From.String(), "to", to, "reason", a.Reason, "priority", n.m.Priority())
	args := strings.Fields(cmd)
	if len(args) == 0 {
		return
	}
	args = append(args, n.cfg.Name, to)
	select {
	case n.notifyQ <- args:
	default:
		n.log.Error("vrrp notify queue full, command skipped", "cmd", cmd, "state", to)
	}
}

// notifyWorker runs the queued commands in order until the queue closes.
func (n *Node) notifyWorker() {
	defer n.notifyWG.Done()
	for args := range n.notifyQ {
		if err := n.deps.RunNotify(args[0], args[1:]...); err != nil {
			n.log.Error("vrrp notify command failed", "cmd", strings.Join(args, " "), "err", err)
		}
	}
}

// drainNotify closes the queue and waits, at most shutdownNotifyDrain, for
// the commands still queued.
func (n *Node) drainNotify() {
	close(n.notifyQ)
	done := make(chan struct{})
	go func() { n.notifyWG.Wait(); close(done) }()
	c, stop := n.clock.NewTimer(shutdownNotifyDrain)
	defer stop()
	select {
	case <-done:
	case <-c:
		n.log.Warn("vrrp notify commands still running at stop")
	}
}
