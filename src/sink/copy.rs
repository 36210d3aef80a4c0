//! Copying a byte range of the input into an output stream (compressed output, stdout) with
//! positioned reads. Uncompressed file output goes through [`super::parallel`] instead.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;

/// Copy with positioned reads into `out` (any writer).
pub fn copy_range_rw(input: &File, offset: u64, len: u64, out: &mut dyn Write) -> io::Result<()> {
    let mut buf = vec![0u8; (len.min(1 << 20)) as usize];
    let mut done = 0u64;
    while done < len {
        let want = ((len - done) as usize).min(buf.len());
        let n = input.read_at(&mut buf[..want], offset + done)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "input ended inside a member",
            ));
        }
        out.write_all(&buf[..n])?;
        done += n as u64;
    }
    Ok(())
}
