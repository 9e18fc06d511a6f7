package questions

// Pool is the built-in question pool (after Microsoft Entra's list). IDs
// are stable: enrollments refer to them.
var Pool = []struct{ ID, Text string }{
	{"b01", "In what city did you meet your first spouse or partner?"},
	{"b02", "In what city did your parents meet?"},
	{"b03", "In what city does your nearest sibling live?"},
	{"b04", "In what city was your father born?"},
	{"b05", "In what city was your first job?"},
	{"b06", "In what city was your mother born?"},
	{"b07", "What city were you in on New Year's 2000?"},
	{"b08", "What is the last name of your favourite teacher in high school?"},
	{"b09", "What is the name of a college you applied to but didn't attend?"},
	{"b10", "What is the name of the place in which you held your first wedding reception?"},
	{"b11", "What is your father's middle name?"},
	{"b12", "What is your favourite food?"},
	{"b13", "What is your maternal grandmother's first and last name?"},
	{"b14", "What is your mother's middle name?"},
	{"b15", "What is your oldest sibling's birthday month and year (for example, November 1985)?"},
	{"b16", "What is your oldest sibling's middle name?"},
	{"b17", "What is your paternal grandfather's first and last name?"},
	{"b18", "What is your youngest sibling's middle name?"},
	{"b19", "What school did you attend for sixth grade?"},
	{"b20", "What was the first and last name of your childhood best friend?"},
	{"b21", "What was the first and last name of your first significant other?"},
	{"b22", "What was the last name of your favourite grade school teacher?"},
	{"b23", "What was the make and model of your first car or motorcycle?"},
	{"b24", "What was the name of the first school you attended?"},
	{"b25", "What was the name of the hospital in which you were born?"},
	{"b26", "What was the name of the street of your first childhood home?"},
	{"b27", "What was the name of your childhood hero?"},
	{"b28", "What was the name of your favourite stuffed animal?"},
	{"b29", "What was the name of your first pet?"},
	{"b30", "What was your childhood nickname?"},
	{"b31", "What was your favourite sport in high school?"},
	{"b32", "What was your first job?"},
	{"b33", "What were the last four digits of your childhood telephone number?"},
	{"b34", "When you were young, what did you want to be when you grew up?"},
	{"b35", "Who is the most famous person you have ever met?"},
	{"b36", "What was the title of the first book you remember reading?"},
	{"b37", "What was the name of the first concert you attended?"},
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
