# make install PREFIX=... DESTDIR=...: the library (shared, versioned, and static),
# the header, a pkg-config file, a CMake package (find_package(mymalloc) gives
# mymalloc::mymalloc and mymalloc::static), the `mymalloc` wrapper that runs a
# command with the library preloaded, and the mymalloc(3) man page.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS mymalloc EXPORT mymallocTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS mymalloc_static EXPORT mymallocTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
set_target_properties(mymalloc_static PROPERTIES EXPORT_NAME static)
target_include_directories(mymalloc INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_include_directories(mymalloc_static INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
# A program linked with the static library needs the thread library beside it.
target_link_libraries(mymalloc_static INTERFACE pthread)
install(FILES include/mymalloc.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(EXPORT mymallocTargets NAMESPACE mymalloc::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mymalloc)
configure_package_config_file(packaging/mymallocConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/mymallocConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mymalloc)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/mymallocConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/mymallocConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/mymallocConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mymalloc)

configure_file(packaging/mymalloc.pc.in ${CMAKE_CURRENT_BINARY_DIR}/mymalloc.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/mymalloc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

configure_file(packaging/mymalloc.sh.in ${CMAKE_CURRENT_BINARY_DIR}/mymalloc-wrapper @ONLY)
install(PROGRAMS ${CMAKE_CURRENT_BINARY_DIR}/mymalloc-wrapper DESTINATION ${CMAKE_INSTALL_BINDIR}
        RENAME mymalloc)
install(FILES packaging/mymalloc.3 DESTINATION ${CMAKE_INSTALL_MANDIR}/man3)
