"""Files and pictures the bot, the CLI and the web console hand out: the ledger workbook,
the periodic reports, the official per-child forms (DOCX to print, PDF to read on a phone),
roster reading, the ladder diagram and the digest chart.

Only rendering and file formats live here (XlsxWriter, openpyxl, python-docx, fpdf2,
matplotlib); what goes into a file, who may have it and how much of it in full is decided in
``casework`` (``ledger``, ``forms``, ``reports``, ``roster_import``, ``disclosure``). This
package takes casework's data and imports casework and models only: nothing of Telegram, the
bot's wiring or the web (``tests/test_layers.py`` keeps it so).
"""
