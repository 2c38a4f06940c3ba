//! `-t`: a pseudo-terminal for the container, and raw mode for the user's terminal.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::sys::stat::Mode;

use nix::sys::termios::{self, SetArg, Termios};

/// Creates the container's terminal on its own devpts instance (call in the child after the
/// rootfs is set up, so `ttyname` inside resolves to /dev/pts/N) and makes it the controlling
/// terminal and stdio. Returns the master, to be sent to the parent.
pub(super) fn open_in_container(size: Option<(u16, u16)>) -> nix::Result<OwnedFd> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
    nix::pty::grantpt(&master)?;
    nix::pty::unlockpt(&master)?;
    let name = nix::pty::ptsname_r(&master)?;
    let slave = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY,
        Mode::empty(),
    )?;
    if let Some((rows, cols)) = size {
        // The size the client's terminal has, before the process can ask for it.
        set_winsize(slave.as_fd(), rows, cols)?;
    }
    // SAFETY: TIOCSCTTY on a terminal fd we own, with a plain integer argument.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
        return Err(nix::Error::last());
    }
    for target in 0..=2 {
        // SAFETY: both fds are open in this process; dup2 onto a standard descriptor.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(nix::Error::last());
        }
    }
    // SAFETY: the master of a pty is an OwnedFd-compatible descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(master.into_raw_fd()) })
}

/// Sends a file descriptor over a unix socket (SCM_RIGHTS).
pub fn send_fd(socket: RawFd, fd: RawFd) -> nix::Result<()> {
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [std::io::IoSlice::new(b"t")];
    sendmsg::<()>(socket, &iov, &cmsg, MsgFlags::empty(), None)?;
    Ok(())
}

/// Receives a file descriptor sent with [`send_fd`]; None if the peer closed without one.
pub(super) fn recv_fd(socket: RawFd) -> nix::Result<Option<OwnedFd>> {
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        socket,
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel just installed this descriptor for us; we own it.
                return Ok(Some(unsafe { OwnedFd::from_raw_fd(*fd) }));
            }
        }
    }
    Ok(None)
}

nix::ioctl_read_bad!(tiocgwinsz, libc::TIOCGWINSZ, libc::winsize);
nix::ioctl_write_ptr_bad!(tiocswinsz, libc::TIOCSWINSZ, libc::winsize);

/// The window size of `fd` if it is a terminal.
pub(super) fn current_winsize(fd: BorrowedFd<'_>) -> Option<libc::winsize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the valid struct we pass.
    unsafe { tiocgwinsz(fd.as_raw_fd(), &mut ws) }.ok()?;
    Some(ws)
}

/// Sets the size of the terminal `fd` (either side of a pty): its foreground processes get
/// SIGWINCH (`docker resize`, the Engine API's resize).
pub fn set_winsize(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> nix::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the valid struct we pass.
    unsafe { tiocswinsz(fd.as_raw_fd(), &ws) }.map(|_| ())
}

/// Copies the user's terminal size to the container's terminal.
pub(super) fn copy_winsize(from: BorrowedFd<'_>, to: BorrowedFd<'_>) {
    if let Some(ws) = current_winsize(from) {
        // SAFETY: TIOCSWINSZ reads one winsize from the valid struct we pass.
        let _ = unsafe { tiocswinsz(to.as_raw_fd(), &ws) };
    }
}

/// Puts the user's terminal in raw mode until dropped.
pub struct RawMode {
    fd: std::io::Stdin,
    saved: Termios,
}

impl RawMode {
    /// Raw mode for stdin if it is a terminal.
    pub fn enter() -> Option<RawMode> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { fd: stdin, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.fd.as_fd(), SetArg::TCSANOW, &self.saved);
    }
}
