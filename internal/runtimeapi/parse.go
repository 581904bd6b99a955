package runtimeapi

// maxArgs bounds the words of one command; extra words are dropped (no
// command takes more than a handful).
const maxArgs = 64

// splitCommands cuts one input line into commands at each ';' not preceded
// by a backslash, and each command into words at blanks. A backslash makes
// the next character literal (`\;`, `\ `, `\\`). Empty commands between
// separators are kept (HAProxy answers them), a trailing empty one is not.
func splitCommands(line []byte) [][]string {
	var cmds [][]string
	var words []string
	var word []byte
	inWord := false
	endWord := func() {
		if inWord {
			if len(words) < maxArgs {
				words = append(words, string(word))
			}
			word, inWord = word[:0], false
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line):
			i++
			word, inWord = append(word, line[i]), true
		case c == ';':
			endWord()
			cmds = append(cmds, words)
			words = nil
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			endWord()
		default:
			word, inWord = append(word, c), true
		}
	}
	endWord()
	if len(words) > 0 || len(cmds) == 0 {
		cmds = append(cmds, words)
	}
	return cmds
}
