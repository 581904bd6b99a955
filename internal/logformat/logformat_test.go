package logformat

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	items, err := Parse("%ci:%cp [%tr] %{+Q}r 100%% %ST")
	if err != nil {
		t.Fatal(err)
	}
	want := []Item{{Var: ClientIP}, {Var: Lit, Text: ":"}, {Var: ClientPort}, {Var: Lit, Text: " ["}, {Var: RequestDate},
		{Var: Lit, Text: "] "}, {Var: RequestLine, Quote: true}, {Var: Lit, Text: " 100% "}, {Var: Status}}
	if len(items) != len(want) {
		t.Fatalf("got %+v", items)
	}
	for i := range want {
		if items[i] != want[i] {
			t.Errorf("item %d: %+v, want %+v", i, items[i], want[i])
		}
	}
	if _, err := Parse(HTTPLog); err != nil {
		t.Errorf("httplog: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		in  string
		col int
	}{
		{"%ci %xyz", 5},
		{"abc %", 5},
		{"%{+Q", 2},
		{"%ci %{+E}r", 7},
		{"%[src]", 1},
		{"ok %ST %Tq", 8},
	} {
		_, err := Parse(tc.in)
		var fe *Error
		if !errors.As(err, &fe) || fe.Col != tc.col {
			t.Errorf("%q: %v, want column %d", tc.in, err, tc.col)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(HTTPLog)
	f.Add("%{+Q,-Q}r %% %[x")
	f.Fuzz(func(t *testing.T, s string) {
		items, err := Parse(s)
		var fe *Error
		if err != nil && (!errors.As(err, &fe) || fe.Col < 1 || fe.Col > len(s)+1) {
			t.Fatalf("%q: bad error %v", s, err)
		}
		_ = items
	})
}
