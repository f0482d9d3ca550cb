"""What is printed on a sheet, and where: the forms (templates/), the fonts and their text metrics,
the layout (every box's place, computed once for printing, reading and review), the signed QR
identity, and the PDF rendering. It knows nothing of storage: the reader, the printing service and
the review pages all stand on it."""
