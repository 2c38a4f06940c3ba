//! Go's `text/tabwriter` (elastic tabstops), as the docker CLI's fork of it lays out every
//! `table` format: `NewWriter(out, 10, 1, 3, ' ', 0)`. Cells end with a tab; a column block
//! is a run of consecutive lines that have a cell in that column, as wide as its widest
//! cell plus the padding (at least the minimum width); a line's last cell is not aligned.

/// The docker CLI's table layout of `text` (tab-separated cells, newline-terminated lines).
pub fn docker_table(text: &str) -> String {
    Writer {
        minwidth: 10,
        padding: 3,
    }
    .format(text)
}

/// Go's `tabwriter.NewWriter(out, minwidth, 1, padding, ' ', 0)` over `text` (the docker
/// CLI's `version` uses 20 and 1).
pub fn layout(text: &str, minwidth: usize, padding: usize) -> String {
    Writer { minwidth, padding }.format(text)
}

struct Writer {
    minwidth: usize,
    padding: usize,
}

struct Cell<'a> {
    text: &'a str,
    width: usize,
}

impl Writer {
    fn format(&self, text: &str) -> String {
        // Lines of cells; the text after the last newline is a last line of its own.
        let lines: Vec<Vec<Cell>> = text
            .split('\n')
            .map(|line| {
                line.split('\t')
                    .map(|c| Cell {
                        text: c,
                        width: c.chars().count(),
                    })
                    .collect()
            })
            .collect();
        let mut out = String::with_capacity(text.len() * 2);
        let mut widths = Vec::new();
        self.block(&lines, 0, lines.len(), &mut widths, &mut out);
        out
    }

    /// Go's `format`: lays out lines `line0..line1` given the widths of the columns to the
    /// left, finding the blocks of the next column.
    fn block(
        &self,
        lines: &[Vec<Cell>],
        mut line0: usize,
        line1: usize,
        widths: &mut Vec<usize>,
        out: &mut String,
    ) {
        let column = widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= lines[this].len() {
                this += 1;
                continue;
            }
            // A cell in this column: print the lines before the block, then find its end.
            self.write_lines(lines, line0, this, widths, out);
            line0 = this;
            let mut width = self.minwidth;
            while this < line1 && column + 1 < lines[this].len() {
                width = width.max(lines[this][column].width + self.padding);
                this += 1;
            }
            widths.push(width);
            self.block(lines, line0, this, widths, out);
            widths.pop();
            line0 = this;
        }
        self.write_lines(lines, line0, line1, widths, out);
    }

    fn write_lines(
        &self,
        lines: &[Vec<Cell>],
        line0: usize,
        line1: usize,
        widths: &[usize],
        out: &mut String,
    ) {
        for (i, line) in lines.iter().enumerate().take(line1).skip(line0) {
            for (j, cell) in line.iter().enumerate() {
                out.push_str(cell.text);
                if j < widths.len() {
                    out.extend(std::iter::repeat_n(
                        ' ',
                        widths[j].saturating_sub(cell.width),
                    ));
                }
            }
            if i + 1 < lines.len() {
                out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_like_go() {
        assert_eq!(
            docker_table("CONTAINER ID\tNAMES\nabc\tweb\n"),
            "CONTAINER ID   NAMES\nabc            web\n"
        );
        // Minimum width 10; the last cell is not padded.
        assert_eq!(docker_table("A\tB\nx\ty\n"), "A         B\nx         y\n");
        // An empty trailing cell is padded (Go prints the spaces).
        assert_eq!(docker_table("A\t\nx\ty\n"), "A         \nx         y\n");
        // A line without tabs ends the column block.
        assert_eq!(
            docker_table("a\tb\nlonger-than-ten\tc\nplain\nd\te\n"),
            "a                 b\nlonger-than-ten   c\nplain\nd         e\n"
        );
    }
}
