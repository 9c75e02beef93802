# kiln_layer(<name> FOLDER <dir> SOURCES ... [DEPS ...] [PUBLIC_DEPS ...])
# Creates the static library kiln_<name> for one folder of the source tree. Its headers are reachable as
# <kiln/<dir>/...> through a private include root in the build tree that holds only this folder, so a
# target sees exactly the headers of the folders it links: layering is checked by the compiler. (Editors
# and other tools read the same paths through the committed links include/kiln/<folder> -> ../../<folder>
# and compile_flags.txt, without the layering; docs/ARCHITECTURE.md says why both exist.)
#
# Private headers: a header named *_detail.h is shared by the folder's own sources only. It is never
# installed, so no installed header may include one.
function(kiln_layer name)
  cmake_parse_arguments(L "" "FOLDER" "SOURCES;DEPS;PUBLIC_DEPS" ${ARGN})
  set(root ${kiln_BINARY_DIR}/include-roots/${name})
  get_filename_component(parent ${root}/kiln/${L_FOLDER} DIRECTORY)
  file(MAKE_DIRECTORY ${parent})
  if(NOT EXISTS ${root}/kiln/${L_FOLDER})
    file(CREATE_LINK ${kiln_SOURCE_DIR}/${L_FOLDER} ${root}/kiln/${L_FOLDER} SYMBOLIC)
  endif()
  if(L_SOURCES)
    add_library(kiln_${name} STATIC ${L_SOURCES})
    set(scope PUBLIC)
  else()  # a folder of headers only (while it is being built up): an INTERFACE library
    add_library(kiln_${name} INTERFACE)
    set(scope INTERFACE)
  endif()
  add_library(kiln::${name} ALIAS kiln_${name})
  target_compile_features(kiln_${name} ${scope} cxx_std_20)
  target_include_directories(kiln_${name} ${scope} $<BUILD_INTERFACE:${root}> $<INSTALL_INTERFACE:include>)
  target_link_libraries(kiln_${name} ${scope} ${L_PUBLIC_DEPS})
  if(L_SOURCES)
    foreach(dep ${L_DEPS})
      kiln_private_dep_link_item(${dep} item)
      target_link_libraries(kiln_${name} PRIVATE ${item})
    endforeach()
  endif()
  set_target_properties(kiln_${name} PROPERTIES EXPORT_NAME ${name})
  set_property(GLOBAL APPEND PROPERTY KILN_LAYERS kiln_${name})
  install(DIRECTORY ${kiln_SOURCE_DIR}/${L_FOLDER}/ DESTINATION include/kiln/${L_FOLDER}
          FILES_MATCHING PATTERN "*.h" PATTERN "*_detail.h" EXCLUDE)
endfunction()

# How a private dependency is linked. A static library passes its private dependencies on to whoever
# links it (they are needed at link time), and the installed package must then provide them too. A
# headers-only imported library (Eigen) contributes nothing at link time, so it is linked for the build
# only: the installed package neither needs it nor exposes its headers.
function(kiln_private_dep_link_item dep out)
  set(item ${dep})
  if(TARGET ${dep})
    get_target_property(imported ${dep} IMPORTED)
    get_target_property(type ${dep} TYPE)
    get_target_property(links ${dep} INTERFACE_LINK_LIBRARIES)
    get_target_property(options ${dep} INTERFACE_LINK_OPTIONS)
    if(imported AND type STREQUAL "INTERFACE_LIBRARY" AND NOT links AND NOT options)
      set(item "$<BUILD_INTERFACE:${dep}>")
    endif()
  endif()
  set(${out} ${item} PARENT_SCOPE)
endfunction()
