package questions

import "github.com/latchkeyid/latchkey/ui/i18n"

// Pool is the built-in question pool (after Microsoft Entra's list). IDs
// are stable: enrollments refer to them. Key is the question's message in
// the catalogs (area question), so pages ask it in the reader's language
// (see ui's "question" template function); Text is the English, what an
// enrollment keeps as its copy.
var Pool = english([]struct{ ID, Key, Text string }{
	{ID: "b01", Key: "question.pool.b01"},
	{ID: "b02", Key: "question.pool.b02"},
	{ID: "b03", Key: "question.pool.b03"},
	{ID: "b04", Key: "question.pool.b04"},
	{ID: "b05", Key: "question.pool.b05"},
	{ID: "b06", Key: "question.pool.b06"},
	{ID: "b07", Key: "question.pool.b07"},
	{ID: "b08", Key: "question.pool.b08"},
	{ID: "b09", Key: "question.pool.b09"},
	{ID: "b10", Key: "question.pool.b10"},
	{ID: "b11", Key: "question.pool.b11"},
	{ID: "b12", Key: "question.pool.b12"},
	{ID: "b13", Key: "question.pool.b13"},
	{ID: "b14", Key: "question.pool.b14"},
	{ID: "b15", Key: "question.pool.b15"},
	{ID: "b16", Key: "question.pool.b16"},
	{ID: "b17", Key: "question.pool.b17"},
	{ID: "b18", Key: "question.pool.b18"},
	{ID: "b19", Key: "question.pool.b19"},
	{ID: "b20", Key: "question.pool.b20"},
	{ID: "b21", Key: "question.pool.b21"},
	{ID: "b22", Key: "question.pool.b22"},
	{ID: "b23", Key: "question.pool.b23"},
	{ID: "b24", Key: "question.pool.b24"},
	{ID: "b25", Key: "question.pool.b25"},
	{ID: "b26", Key: "question.pool.b26"},
	{ID: "b27", Key: "question.pool.b27"},
	{ID: "b28", Key: "question.pool.b28"},
	{ID: "b29", Key: "question.pool.b29"},
	{ID: "b30", Key: "question.pool.b30"},
	{ID: "b31", Key: "question.pool.b31"},
	{ID: "b32", Key: "question.pool.b32"},
	{ID: "b33", Key: "question.pool.b33"},
	{ID: "b34", Key: "question.pool.b34"},
	{ID: "b35", Key: "question.pool.b35"},
	{ID: "b36", Key: "question.pool.b36"},
	{ID: "b37", Key: "question.pool.b37"},
})

// english fills in each question's English text from the catalog.
func english(pool []struct{ ID, Key, Text string }) []struct{ ID, Key, Text string } {
	en := i18n.English()
	for i := range pool {
		pool[i].Text = en.T(pool[i].Key)
	}
	return pool
}

// common holds answers too common to protect anything (OWASP security
// questions cheat sheet), compared after normalisation.
var common = map[string]bool{
	"password": true, "123456": true, "1234": true, "12345": true, "qwerty": true, "asdf": true,
	"none": true, "n/a": true, "not applicable": true, "unknown": true, "nothing": true, "nobody": true,
	"no one": true, "noone": true, "idk": true, "i don't know": true, "dont know": true, "don't know": true,
	"forgot": true, "test": true, "secret": true, "answer": true, "same": true, "yes": true, "abc": true,
	"aaa": true, "xxx": true, "blue": true, "red": true, "green": true, "black": true, "pizza": true,
	"dog": true, "cat": true, "rex": true, "max": true, "buddy": true, "smith": true, "john": true,
	"mary": true, "football": true, "soccer": true, "baseball": true, "basketball": true, "london": true,
	"new york": true, "paris": true, "teacher": true, "doctor": true, "mom": true, "dad": true,
	"mother": true, "father": true, "god": true, "jesus": true, "batman": true, "superman": true,
	"ford": true, "toyota": true, "honda": true, "chevy": true, "latchkey": true,
}
