# aarch64-linux-gnu.cmake - cross-build rove-agent for 64-bit ARM boards (Jetson, Raspberry Pi 4/5)
# with Debian's gcc-aarch64-linux-gnu and arm64 multiarch libraries:
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install gcc-aarch64-linux-gnu qemu-user libuv1-dev:arm64 libsodium-dev:arm64 zlib1g-dev:arm64 \
#     libopenblas-dev:arm64 libprotobuf-c-dev:arm64 libinih-dev:arm64
#   cmake -S . -B build-arm64 -DROVE_AGENT_ONLY=ON -DROVE_TESTS=OFF \
#     -DCMAKE_TOOLCHAIN_FILE=deploy/toolchains/aarch64-linux-gnu.cmake
# protoc-c still runs on the build host (it only generates C).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# pkg-config must see only the arm64 .pc files, never the host's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Run cross-built programs (try_run) under qemu with the arm64 multiarch
# glibc the arm64 libraries were built against: "-L /" means the host root
# (/lib/ld-linux-aarch64.so.1 and /lib/aarch64-linux-gnu from libc6:arm64).
# Never "-L /usr/aarch64-linux-gnu": that loads the cross toolchain's ld.so
# (libc6-arm64-cross) with the multiarch libc.so.6, two builds that disagree
# on ld.so's private data, and the first pthread_create loops forever.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;/)
