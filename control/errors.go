package control

import (
	"fmt"
	"unicode/utf8"
)

// MaxErrorLen bounds an error message in a reply and in the daemon's log
// lines: a zone error quotes the offending token, and a binary file made
// into one "token" once produced a 524 MB line.
const MaxErrorLen = 512

// TruncateError cuts msg to MaxErrorLen bytes (on a character boundary)
// and says how much was left out.
func TruncateError(msg string) string {
	if len(msg) <= MaxErrorLen {
		return msg
	}
	n := MaxErrorLen
	for n > 0 && !utf8.RuneStart(msg[n]) {
		n--
	}
	return fmt.Sprintf("%s… (%d more bytes)", msg[:n], len(msg)-n)
}
