"""CareLedger contract API: what a contract author needs, and the healthcare contracts."""
