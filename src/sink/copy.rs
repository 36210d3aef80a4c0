//! Copying a byte range of the input into the output: `copy_file_range` on Linux (the kernel
//! moves the bytes, no user-space copy), plain positioned read/write otherwise.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;

/// Copy `len` bytes at `offset` of `input` to the current position of `out`.
pub fn copy_range(input: &File, offset: u64, len: u64, out: &mut File) -> io::Result<()> {
    let mut done = 0u64;
    #[cfg(target_os = "linux")]
    {
        while done < len {
            let mut off_in = (offset + done) as libc::loff_t;
            let want = (len - done).min(1 << 30) as usize;
            // SAFETY: both descriptors are open files owned by the callers; off_in is a valid
            // pointer; a null off_out means "use and advance the file position".
            let n = unsafe {
                libc::copy_file_range(
                    input.as_raw_fd(),
                    &mut off_in,
                    out.as_raw_fd(),
                    std::ptr::null_mut(),
                    want,
                    0,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::ENOSYS)
                    | Some(libc::EXDEV)
                    | Some(libc::EINVAL)
                    | Some(libc::EOPNOTSUPP)
                    | Some(libc::EBADF) => break,
                    Some(libc::EINTR) => continue,
                    _ => return Err(e),
                }
            }
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "input ended inside a member",
                ));
            }
            done += n as u64;
        }
    }
    copy_range_rw(input, offset + done, len - done, out)
}

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
