"""BPMN in and out: pure functions over XML and plain data (parse, build, validate, diff)."""
