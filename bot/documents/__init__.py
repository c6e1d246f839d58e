"""Files the bot and the CLI hand out: the ledger workbook, the periodic reports, the
official per-child forms (DOCX to print, PDF to read on a phone) and roster reading.

Only rendering and file formats live here (XlsxWriter, openpyxl, python-docx, fpdf2);
what goes into a file, who may have it and how much of it in full is decided in
``casework`` (``ledger``, ``forms``, ``reports``, ``roster_import``, ``disclosure``).
"""
