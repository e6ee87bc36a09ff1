# aarch64-linux-gnu.cmake: cross-compiles simclr for 64-bit Arm with Debian's gcc-aarch64-linux-gnu and runs the
# tests under qemu-aarch64. Use with -DSIMCLR_KERNELS_ONLY=ON (the image and file libraries are not installed for
# arm64). SLEEF comes from the sysroot that `tools/install-deps.sh --cross` unpacks.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(SIMCLR_AARCH64_SYSROOT /opt/simclr/aarch64-sysroot CACHE PATH "sysroot holding the arm64 SLEEF")
set(CMAKE_FIND_ROOT_PATH ${SIMCLR_AARCH64_SYSROOT} /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;/usr/aarch64-linux-gnu;-E;LD_LIBRARY_PATH=${SIMCLR_AARCH64_SYSROOT}/usr/lib/aarch64-linux-gnu)
