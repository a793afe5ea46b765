"""Writers: X12 acknowledgments (277CA, 999), reports (text, JSON, HTML) and the accepted 837."""
