package runtimeapi

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lbd-ha/lbd/internal/stats"
)

// show stat is the stats page's CSV: the same bytes as stats.WriteCSV.
func TestShowStatIsTheStatsCSV(t *testing.T) {
	f := newFake()
	st := f.Status()
	var want bytes.Buffer
	if err := stats.WriteCSV(&want, &st, testNow, false); err != nil {
		t.Fatal(err)
	}
	got := converseNow(t, f, LevelUser, "show stat\n")
	if got != want.String()+"\n" {
		t.Fatalf("show stat differs from the stats CSV:\n%s\nvs\n%s", got, want.String())
	}
}

func TestShowStatFilters(t *testing.T) {
	rows := func(out string) []string {
		var r []string
		for _, l := range strings.Split(out, "\n") {
			if l != "" && !strings.HasPrefix(l, "# ") {
				a := strings.SplitN(l, ",", 3)
				r = append(r, a[0]+","+a[1])
			}
		}
		return r
	}
	for _, c := range []struct{ in, want string }{
		{"show stat -1 4 -1", "be,web01 be,web02"},
		{"show stat be 4 2", "be,web02"},
		{"show stat 2 2 -1", "be,BACKEND"},
		{"show stat 1 1 -1", "fe,FRONTEND"},
		{"show stat -1 3 -1", "fe,FRONTEND be,BACKEND"},
		{"show stat -1 -1 -1", "fe,FRONTEND be,web01 be,web02 be,BACKEND"},
	} {
		got := strings.Join(rows(converse(t, newFake(), LevelUser, c.in+"\n")), " ")
		if got != c.want {
			t.Errorf("%s: rows %q, want %q", c.in, got, c.want)
		}
	}
	if got := converse(t, newFake(), LevelUser, "show stat nope 4 -1\n"); got != "No such proxy.\n\n" {
		t.Errorf("unknown proxy: %q", got)
	}
	if got := rows(converse(t, newFake(), LevelUser, "show stat 1 2\n")); len(got) != 4 {
		t.Errorf("two of three filter words select everything, as in HAProxy: %q", got)
	}
}

func TestShowStatTyped(t *testing.T) {
	got := converse(t, newFake(), LevelUser, "show stat be 4 2 typed\n")
	for _, want := range []string{
		"S.2.2.0.pxname.1:KNS:str:be\n",
		"S.2.2.1.svname.1:KNS:str:web02\n",
		"S.2.2.17.status.1:SGP:str:UP\n",
		"S.2.2.18.weight.1:MaP:u32:50\n",
		"S.2.2.73.addr.1:CGS:str:127.0.0.1:8002\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("typed output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "web01") || strings.Contains(got, "# ") {
		t.Errorf("typed output has other rows or a header:\n%s", got)
	}
}

func TestShowServersState(t *testing.T) {
	f := newFake()
	f.SetServerAdmin("be", "web01", "maint", "t")
	got := converseNow(t, f, LevelUser, "show servers state be\n")
	want := serversStateHeader +
		"2 be 1 web01 127.0.0.1 0 1 1 1 10 1 0 0 0 0 0 0 - 8001 - 0 0 - - 0\n" +
		"2 be 2 web02 127.0.0.1 2 0 50 50 0 13 3 4 6 0 0 0 - 8002 - 0 0 - - 0\n\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestShowInfo(t *testing.T) {
	got := converse(t, newFake(), LevelUser, "show info\n")
	for _, want := range []string{"Name: lbd\n", "Version: 2.6.0-lbd-1.0.0\n", "Pid: 42\n", "Uptime: 0d 1h00m00s\n",
		"Uptime_sec: 3600\n", "Maxconn: 4096\n", "CurrConns: 2\n", "CumConns: 9\n", "node: lb1\n", "Nbproc: 1\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("show info lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasPrefix(got, "Name: lbd\nVersion: ") || !strings.HasSuffix(got, "\n\n") {
		t.Errorf("show info framing:\n%q", got)
	}
}
