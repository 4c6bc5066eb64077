"""The viewer's widgets; each takes the state (or plain values) and emits what the user did."""
