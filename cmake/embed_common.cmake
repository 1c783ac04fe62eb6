# What cmake/embed_text.cmake and cmake/embed_web.cmake share: a text as C++ raw string
# literals of at most 16,384 octets each (each stays under the 65,536 characters ISO C++
# requires compilers to take, so -Wpedantic's -Woverlength-strings stays quiet however a file
# grows), and writing a generated file only when its content changes (so an unchanged input
# rebuilds nothing).
set(EMBED_CHUNK 16384)
set(EMBED_DELIMITER "smtpmock_embed")

# Reads `input` and sets `${out_literals}` to its literals, one per line ending in a comma, and
# `${out_count}` to how many (at least one: an empty file is one empty literal).
function(embed_literals input out_literals out_count)
  file(READ "${input}" text)
  string(FIND "${text}" ")${EMBED_DELIMITER}\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${input} contains )${EMBED_DELIMITER}\", the raw string's end")
  endif()
  string(FIND "${text}" "\r" carriage_return)
  if(NOT carriage_return EQUAL -1)
    # A raw string literal keeps a CR only as the compiler reads the source: keep LF-only text.
    message(FATAL_ERROR "${input} contains a carriage return; use LF line ends")
  endif()
  string(LENGTH "${text}" size)
  set(literals "")
  set(count 0)
  set(offset 0)
  while(offset LESS size)
    string(SUBSTRING "${text}" ${offset} ${EMBED_CHUNK} piece)
    string(APPEND literals "    R\"${EMBED_DELIMITER}(${piece})${EMBED_DELIMITER}\",\n")
    math(EXPR offset "${offset} + ${EMBED_CHUNK}")
    math(EXPR count "${count} + 1")
  endwhile()
  if(count EQUAL 0)
    set(literals "    \"\",\n")
    set(count 1)
  endif()
  set(${out_literals} "${literals}" PARENT_SCOPE)
  set(${out_count} ${count} PARENT_SCOPE)
endfunction()

# Writes `content` to `output` unless it already holds exactly that.
function(embed_write output content)
  if(EXISTS "${output}")
    file(READ "${output}" old)
  else()
    set(old "")
  endif()
  if(NOT old STREQUAL content)
    file(WRITE "${output}" "${content}")
  endif()
endfunction()
