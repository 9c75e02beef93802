# `cmake --install` gives include/kiln/..., the static libraries and a find_package(kiln) config that
# defines kiln::kiln.
include(CMakePackageConfigHelpers)
get_property(kiln_layers GLOBAL PROPERTY KILN_LAYERS)
install(TARGETS kiln ${kiln_layers} EXPORT kilnTargets ARCHIVE DESTINATION lib LIBRARY DESTINATION lib)
install(FILES ${kiln_SOURCE_DIR}/include/kiln/kiln.h DESTINATION include/kiln)
install(EXPORT kilnTargets NAMESPACE kiln:: DESTINATION lib/cmake/kiln)
# The installed config needs the CUDA toolkit's targets only when the CUDA backend was built; KILN_CUDA is
# normalized to ON/OFF here because the config tests it literally.
if(KILN_CUDA)
  set(KILN_PACKAGE_CUDA ON)
else()
  set(KILN_PACKAGE_CUDA OFF)
endif()
if(KILN_MPI)
  set(KILN_PACKAGE_MPI ON)
else()
  set(KILN_PACKAGE_MPI OFF)
endif()
configure_package_config_file(${kiln_SOURCE_DIR}/cmake/kilnConfig.cmake.in
                              ${kiln_BINARY_DIR}/kilnConfig.cmake INSTALL_DESTINATION lib/cmake/kiln)
write_basic_package_version_file(${kiln_BINARY_DIR}/kilnConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${kiln_BINARY_DIR}/kilnConfig.cmake ${kiln_BINARY_DIR}/kilnConfigVersion.cmake
        DESTINATION lib/cmake/kiln)
