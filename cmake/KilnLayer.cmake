# kiln_layer(<name> FOLDER <dir> SOURCES ... [DEPS ...] [PUBLIC_DEPS ...])
# Creates the static library kiln_<name> for one folder of the source tree. Its headers are reachable as
# <kiln/<dir>/...> through a private include root in the build tree that holds only this folder, so a
# target sees exactly the headers of the folders it links: layering is checked by the compiler.
function(kiln_layer name)
  cmake_parse_arguments(L "" "FOLDER" "SOURCES;DEPS;PUBLIC_DEPS" ${ARGN})
  set(root ${kiln_BINARY_DIR}/include-roots/${name})
  get_filename_component(parent ${root}/kiln/${L_FOLDER} DIRECTORY)
  file(MAKE_DIRECTORY ${parent})
  if(NOT EXISTS ${root}/kiln/${L_FOLDER})
    file(CREATE_LINK ${kiln_SOURCE_DIR}/${L_FOLDER} ${root}/kiln/${L_FOLDER} SYMBOLIC)
  endif()
  add_library(kiln_${name} STATIC ${L_SOURCES})
  add_library(kiln::${name} ALIAS kiln_${name})
  target_compile_features(kiln_${name} PUBLIC cxx_std_20)
  target_include_directories(kiln_${name} PUBLIC $<BUILD_INTERFACE:${root}> $<INSTALL_INTERFACE:include>)
  target_link_libraries(kiln_${name} PUBLIC ${L_PUBLIC_DEPS} PRIVATE ${L_DEPS})
  set_target_properties(kiln_${name} PROPERTIES EXPORT_NAME ${name})
  set_property(GLOBAL APPEND PROPERTY KILN_LAYERS kiln_${name})
  install(DIRECTORY ${kiln_SOURCE_DIR}/${L_FOLDER}/ DESTINATION include/kiln/${L_FOLDER}
          FILES_MATCHING PATTERN "*.h")
endfunction()
