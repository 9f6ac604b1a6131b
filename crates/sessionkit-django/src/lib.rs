//! Django wire formats (work in progress).
