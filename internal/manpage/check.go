package manpage

import (
	"os"
	"testing"
)

// Check compares the committed page at path with text, or rewrites it
// when UPDATE_MAN=1 (make man).
func Check(t testing.TB, path, text string) {
	t.Helper()
	if os.Getenv("UPDATE_MAN") == "1" {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != text {
		t.Errorf("%s is out of date (%v): run make man", path, err)
	}
}
