"""Sheet rendering: survey sheets as printable A4 PDF."""
