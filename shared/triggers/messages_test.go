package triggers

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestUserMessagesDoNotEndWithAPeriod: Cognito shows a trigger's error as
// "<Trigger> failed with error <message>." and so adds the final period
// itself; a message ending in one would be shown ending in "..". Every
// refusal format (refuse calls) and every exported message constant of the
// package is checked in the source, so a new message cannot slip through.
func TestUserMessagesDoNotEndWithAPeriod(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	checked := 0
	check := func(pos token.Pos, lit ast.Expr) {
		bl, ok := lit.(*ast.BasicLit)
		if !ok || bl.Kind != token.STRING {
			return
		}
		s, err := strconv.Unquote(bl.Value)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		if strings.HasSuffix(strings.TrimSpace(s), ".") {
			t.Errorf("%s: user-facing message ends with a period (Cognito adds one): %q", fset.Position(pos), s)
		}
	}
	{
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.CallExpr:
					if id, ok := x.Fun.(*ast.Ident); ok && id.Name == "refuse" && len(x.Args) >= 2 {
						check(x.Pos(), x.Args[1])
					}
				case *ast.GenDecl:
					if x.Tok != token.CONST {
						return true
					}
					for _, sp := range x.Specs {
						vs := sp.(*ast.ValueSpec)
						for i, name := range vs.Names {
							if name.IsExported() && i < len(vs.Values) && (strings.HasSuffix(name.Name, "Unavailable") || name.Name == "UnverifiedEmail" || name.Name == "UnknownPool") {
								check(name.Pos(), vs.Values[i])
							}
						}
					}
				}
				return true
			})
		}
	}
	if checked < 10 {
		t.Fatalf("only %d messages found: the test no longer sees the refusals", checked)
	}
}
