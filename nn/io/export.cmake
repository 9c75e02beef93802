# TFLite and ONNX export: the TFLite schema (tflite_schema.fbs) is compiled by Debian's flatc at build time
# into a header private to kiln_nn_io; the writer uses the FlatBuffers builder. ONNX is encoded by a small
# protobuf writer of kiln's own (onnx_proto.h), so it needs no library.
find_package(FlatBuffers REQUIRED CONFIG)
set(kiln_tflite_gen ${CMAKE_CURRENT_BINARY_DIR}/generated)
add_custom_command(
  OUTPUT ${kiln_tflite_gen}/tflite_schema_generated.h
  COMMAND ${CMAKE_COMMAND} -E make_directory ${kiln_tflite_gen}
  COMMAND flatbuffers::flatc --cpp --scoped-enums -o ${kiln_tflite_gen} ${CMAKE_CURRENT_SOURCE_DIR}/tflite_schema.fbs
  DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tflite_schema.fbs flatbuffers::flatc
  COMMENT "flatc: TFLite schema"
  VERBATIM)
add_custom_target(kiln_tflite_schema DEPENDS ${kiln_tflite_gen}/tflite_schema_generated.h)
add_dependencies(kiln_nn_io kiln_tflite_schema)
target_include_directories(kiln_nn_io PRIVATE ${kiln_tflite_gen})
target_link_libraries(kiln_nn_io PRIVATE flatbuffers::flatbuffers)
